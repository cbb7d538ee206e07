// Judges a batch of AWS requests with @cloud-copilot/iam-simulate, in one process.
//
// stdin: {"policies": {NAME: policy document}, "requests": [{"id", "principal", "action",
//         "resource", "account", "context": {key: value}, "identity": [NAME...],
//         "resourcePolicy": NAME or null}]}
// stdout: [{"id", "result", "deciding": [{"policy", "sid", "effect"}], "errors",
//           "ignoredContextKeys"}] in the order of the requests.
import { runSimulation } from '@cloud-copilot/iam-simulate'

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = []
    process.stdin.on('data', (chunk) => chunks.push(chunk))
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    process.stdin.on('error', reject)
  })
}

function statementsOf(analysis, kind, request) {
  const found = []
  const parts = [
    [analysis?.identityAnalysis, null],
    [analysis?.resourceAnalysis, request.resourcePolicy]
  ]
  for (const [part, name] of parts) {
    for (const s of part?.[kind] ?? []) {
      found.push({
        policy: s.policyId ?? name,
        sid: s.statement.sid() ?? `#${s.statement.index()}`,
        effect: s.statement.effect()
      })
    }
  }
  return found
}

async function judge(request, policies) {
  const simulation = {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.account },
      contextVariables: request.context
    },
    identityPolicies: request.identity.map((name) => ({ name, policy: policies[name] })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: request.resourcePolicy ? policies[request.resourcePolicy] : undefined
  }
  const answer = await runSimulation(simulation, {})
  if (answer.resultType === 'error') {
    return { id: request.id, result: 'Error', deciding: [], errors: answer.errors }
  }
  const result = answer.resultType === 'single' ? answer.result : answer.results[0]
  const verdict = answer.overallResult
  const kind = verdict === 'ExplicitlyDenied' ? 'denyStatements' : 'allowStatements'
  return {
    id: request.id,
    result: verdict,
    deciding: verdict === 'ImplicitlyDenied' ? [] : statementsOf(result.analysis, kind, request),
    errors: null,
    ignoredContextKeys: result.ignoredContextKeys ?? []
  }
}

const input = JSON.parse(await readStdin())
const out = []
for (const request of input.requests) {
  out.push(await judge(request, input.policies))
}
process.stdout.write(JSON.stringify(out))
