"""What each optional feature (stack config ``vpc``, ``audit``, ``fis``; all off by default)
adds to the bill, for ``cloudsync cost``.

Each option is priced from ``prices.json`` and the counts of ``cloudsync_defs.options`` (NAT
gateways, interface endpoints and the AZs they sit in, Config rules), in 30-day months as the rest
of the model. What an option bills per GB or per event is shown beside its fixed monthly cost,
because that is what surprises: a NAT gateway bills every GB the functions download from GoPro.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

from cloudsync_defs import options
from cloudsync_defs.functions import FUNCTIONS

from .cost import GIB_PER_GB, MONTH_DAYS, Charges, Library, Prices, Usage, money

HOURS: Final = MONTH_DAYS * 24


@dataclass(frozen=True)
class OptionUsage:
    """Assumptions (not measured): named in the report."""

    config_changes_per_resource_month: float = 2.0  # a deploy or two re-records each resource
    management_events_per_medium: float = 5.0  # StartExecution, secret reads, KMS, STS
    management_events_per_night: float = 200.0
    log_kb_per_event: float = 1.0  # CloudTrail's gzipped JSON, generously
    experiments_per_month: float = 1.0
    fis_options: options.FisOptions = field(default_factory=options.FisOptions)


@dataclass(frozen=True)
class OptionCost:
    name: str  # the stack config that turns it on
    fixed_month: float  # whatever the library does
    first_month: Charges  # for this library: fixed + archiving it
    steady_month: Charges
    rates: str  # what it bills per GB / event / run


def _objects(usage: Usage, lib: Library) -> tuple[float, float]:
    """(objects, S3 object-level requests per object) as the main model counts them."""
    objects = lib.videos * usage.originals_per_video
    parts = max(1.0, math.ceil(lib.gb / objects * GIB_PER_GB * usage.parts_per_gib - 1e-9))
    requests = (usage.s3_put_per_object + parts if parts > 1 else 1.0)
    return objects, requests + usage.s3_list_per_object + usage.s3_get_per_object


def vpc(p: Prices, lib: Library, interface_endpoints: bool) -> OptionCost:
    fixed = Charges()
    fixed.add("NAT gateway hours", options.NAT_GATEWAYS * HOURS * p["nat_gateway_hour"])
    fixed.add("NAT gateway public IPv4", options.NAT_GATEWAYS * HOURS * p["public_ipv4_hour"])
    rates = f"${p['nat_gateway_gb']:g} per GB downloaded from GoPro (NAT)"
    if interface_endpoints:
        endpoint_azs = len(options.INTERFACE_ENDPOINT_SERVICES) * options.AZ_COUNT
        fixed.add("interface endpoints (per AZ)",
                  endpoint_azs * HOURS * p["interface_endpoint_az_hour"])
        rates += f"; endpoints ${p['interface_endpoint_gb']:g} per GB (API calls: tiny)"
    first = Charges()
    first.merge(fixed)
    first.add("NAT gateway GB processed (the library's download)", lib.gb * p["nat_gateway_gb"])
    name = "vpc: create" + (" + interfaceEndpoints" if interface_endpoints else "")
    return OptionCost(name, fixed.total, first, fixed, rates)


def audit(p: Prices, usage: Usage, lib: Library, ou: OptionUsage) -> OptionCost:
    objects, events_per_object = _objects(usage, lib)
    resources = 1 + 1 + len(FUNCTIONS)  # the archive bucket, the table, the functions
    changes = resources * ou.config_changes_per_resource_month
    evaluations = ou.config_changes_per_resource_month * sum(
        len(FUNCTIONS) if rule.startswith("LAMBDA") else 1
        for rule in options.CONFIG_RULES.values())
    fixed = Charges()
    fixed.add("audit log key", p["kms_key_month"])
    fixed.add("Config items recorded", changes * p["config_item"])
    fixed.add("Config rule evaluations", evaluations * p["config_rule_evaluation"])
    night_events = ou.management_events_per_night * usage.nights_per_month
    steady = Charges()
    steady.merge(fixed)
    steady.add("trail log storage", night_events * ou.log_kb_per_event / 1024**2
               * p["s3_standard_gb_month"])
    first = Charges()
    first.merge(fixed)
    data_events = objects * events_per_object
    first.add("CloudTrail S3 data events (archiving)",
              data_events * p["cloudtrail_data_events_per_100k"] / 1e5)
    first.add("trail log storage", (data_events + night_events) * ou.log_kb_per_event
              / 1024**2 * p["s3_standard_gb_month"])
    extra = (lib.videos * ou.management_events_per_medium + night_events) * p[
        "cloudtrail_extra_management_events_per_100k"] / 1e5
    rates = (f"{money(p['cloudtrail_data_events_per_100k'])} per 100,000 archive reads/writes; "
             f"management events free unless the account has a trail already "
             f"(then ~{money(extra)} more in the first month)")
    return OptionCost("audit: enabled", fixed.total, first, steady, rates)


def fis(p: Prices, ou: OptionUsage) -> OptionCost:
    o = ou.fis_options
    run = len(options.FIS_ACTIONS) * o.duration_minutes * p["fis_action_minute"]
    month = Charges()
    month.add("FIS action-minutes", ou.experiments_per_month * run)
    rates = (f"{money(run)} per experiment ({len(options.FIS_ACTIONS)} actions x "
             f"{o.duration_minutes} min x {money(p['fis_action_minute'])}); nothing between")
    return OptionCost("fis: enabled", 0.0, month, month, rates)


def option_costs(p: Prices, usage: Usage, lib: Library,
                 ou: OptionUsage | None = None) -> list[OptionCost]:
    ou = ou or OptionUsage()
    return [vpc(p, lib, False), vpc(p, lib, True), audit(p, usage, lib, ou), fis(p, ou)]


def options_markdown(p: Prices, usage: Usage, lib: Library) -> str:
    from .cost import _table  # the report's own table layout

    rows = [[c.name, money(c.fixed_month), money(c.first_month.total),
             money(c.steady_month.total), c.rates] for c in option_costs(p, usage, lib)]
    return _table(["option (off by default)", "fixed a month", f"first month ({lib.label()})",
                   "steady month", "and per use"], rows)
