"""The functions' network when stack config ``vpc`` is on (seed: Network Security).

``mode: create``: a VPC of the stack's own with two private subnets in two AZs, one public subnet
with the NAT gateway the functions reach GoPro's API and CDN through, free gateway endpoints for
S3 and DynamoDB (so archive bytes and tracker writes skip the NAT's per-GB charge) and, with
``interfaceEndpoints``, interface endpoints for the other AWS APIs the functions call.
``mode: existing``: the operator's VPC and subnets; only the security group is the stack's.

The functions' security group allows no inbound traffic and outbound HTTPS only: every call the
functions make (GoPro, AWS APIs) is TLS on 443, and the VPC's DNS resolver is not subject to
security groups. The endpoints' group admits 443 from the functions' group alone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from cloudsync_defs import options
from cloudsync_defs.options import VpcOptions

from .naming import Naming

ANYWHERE = "0.0.0.0/0"


@dataclass
class NetworkArgs:
    naming: Naming
    options: VpcOptions
    availability_zones: Sequence[str]  # with mode create: the first two are used
    tags: Mapping[str, str]


def subnet_cidrs(cidr: str) -> list[str]:
    """The VPC's first quarters: private subnet per AZ, then the public (NAT) subnet."""
    network = ipaddress.ip_network(cidr, strict=False)
    quarters = list(network.subnets(prefixlen_diff=2))
    return [str(q) for q in quarters[: options.AZ_COUNT + 1]]


def https_out() -> list[aws.ec2.SecurityGroupEgressArgs]:
    return [aws.ec2.SecurityGroupEgressArgs(
        description="HTTPS: GoPro's API and CDN, AWS APIs", protocol="tcp",
        from_port=options.HTTPS, to_port=options.HTTPS, cidr_blocks=[ANYWHERE])]


class Network(pulumi.ComponentResource):
    subnet_ids: pulumi.Output[list[str]]
    security_group_ids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: NetworkArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cloudsync:index:Network", name, None, opts)
        self._name, self._args = name, args
        self._tags = dict(args.tags)
        if args.options.mode == "existing":
            vpc_id: pulumi.Input[str] = args.options.vpc_id
            subnets: list[pulumi.Input[str]] = list(args.options.subnet_ids)
        else:
            self.vpc = aws.ec2.Vpc(
                f"{name}-vpc", cidr_block=args.options.cidr, enable_dns_support=True,
                enable_dns_hostnames=True,  # interface endpoints' private DNS needs both
                tags=self._tagged("vpc"), opts=self._child())
            vpc_id = self.vpc.id
            subnets = self._subnets()
        self.function_group = aws.ec2.SecurityGroup(
            f"{name}-functions-sg", vpc_id=vpc_id, name=args.naming.name("functions"),
            description="cloudsync functions: no inbound, HTTPS out only",
            ingress=[], egress=https_out(), tags=self._tagged("functions"),
            opts=self._child())
        if args.options.interface_endpoints:
            self._interface_endpoints(vpc_id, subnets)
        self.subnet_ids = pulumi.Output.all(*subnets)
        self.security_group_ids = pulumi.Output.all(self.function_group.id)
        self.register_outputs({"subnet_ids": self.subnet_ids,
                               "security_group_ids": self.security_group_ids})

    def _child(self, depends_on: Sequence[pulumi.Resource] = ()) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, depends_on=list(depends_on))

    def _tagged(self, suffix: str) -> dict[str, str]:
        return {**self._tags, "Name": self._args.naming.name(suffix)}

    def _subnets(self) -> list[pulumi.Input[str]]:
        """Private subnets in two AZs behind one NAT gateway, and the gateway endpoints."""
        name, args, vpc = self._name, self._args, self.vpc
        zones = list(args.availability_zones)[: options.AZ_COUNT]
        cidrs = subnet_cidrs(args.options.cidr)
        public = aws.ec2.Subnet(
            f"{name}-public", vpc_id=vpc.id, cidr_block=cidrs[-1], availability_zone=zones[0],
            map_public_ip_on_launch=False, tags=self._tagged("public"), opts=self._child())
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id,
                                          tags=self._tagged("igw"), opts=self._child())
        public_routes = aws.ec2.RouteTable(
            f"{name}-public-routes", vpc_id=vpc.id, tags=self._tagged("public"),
            routes=[{"cidr_block": ANYWHERE, "gateway_id": gateway.id}], opts=self._child())
        aws.ec2.RouteTableAssociation(f"{name}-public-routes-public", subnet_id=public.id,
                                      route_table_id=public_routes.id, opts=self._child())
        address = aws.ec2.Eip(f"{name}-nat-ip", domain="vpc", tags=self._tagged("nat"),
                              opts=self._child([gateway]))
        self.nat = aws.ec2.NatGateway(
            f"{name}-nat", allocation_id=address.id, subnet_id=public.id,
            tags=self._tagged("nat"), opts=self._child([gateway]))
        private_routes = aws.ec2.RouteTable(
            f"{name}-private-routes", vpc_id=vpc.id, tags=self._tagged("private"),
            routes=[{"cidr_block": ANYWHERE, "nat_gateway_id": self.nat.id}], opts=self._child())
        subnets: list[pulumi.Input[str]] = []
        for n, (zone, cidr) in enumerate(zip(zones, cidrs, strict=False)):
            subnet = aws.ec2.Subnet(
                f"{name}-private-{n + 1}", vpc_id=vpc.id, cidr_block=cidr,
                availability_zone=zone, tags=self._tagged(f"private-{zone}"),
                opts=self._child())
            aws.ec2.RouteTableAssociation(
                f"{name}-private-routes-{n + 1}", subnet_id=subnet.id,
                route_table_id=private_routes.id, opts=self._child())
            subnets.append(subnet.id)
        for service in options.GATEWAY_ENDPOINT_SERVICES:
            aws.ec2.VpcEndpoint(
                f"{name}-{service}-endpoint", vpc_id=vpc.id,
                service_name=args.naming.endpoint_service(service),
                vpc_endpoint_type="Gateway", route_table_ids=[private_routes.id],
                tags=self._tagged(service), opts=self._child())
        return subnets

    def _interface_endpoints(self, vpc_id: pulumi.Input[str],
                             subnets: Sequence[pulumi.Input[str]]) -> None:
        name, args = self._name, self._args
        group = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg", vpc_id=vpc_id, name=args.naming.name("endpoints"),
            description="cloudsync interface endpoints: HTTPS from the functions only",
            ingress=[aws.ec2.SecurityGroupIngressArgs(
                description="the functions", protocol="tcp", from_port=options.HTTPS,
                to_port=options.HTTPS, security_groups=[self.function_group.id])],
            egress=[], tags=self._tagged("endpoints"), opts=self._child())
        for service in options.INTERFACE_ENDPOINT_SERVICES:
            aws.ec2.VpcEndpoint(
                f"{name}-{service}-endpoint", vpc_id=vpc_id,
                service_name=args.naming.endpoint_service(service),
                vpc_endpoint_type="Interface", private_dns_enabled=True,
                subnet_ids=list(subnets), security_group_ids=[group.id],
                tags=self._tagged(service), opts=self._child())
