/**
 * The benchmarks' virtual key: an org, a team in it and a key in the team, made through the admin
 * API, each level with RPM, TPM and a budget far above any load (the key also max_parallel): the
 * 10 rules of a fully governed request. Returns the key's secret.
 */
import { request } from 'undici';

export async function governedKey(origin, masterKey, model) {
  const admin = async (path, body) => {
    const res = await request(`${origin}/admin${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${masterKey}` }, body: JSON.stringify(body) });
    const text = await res.body.text();
    if (res.statusCode !== 201) throw new Error(`admin POST ${path} answered ${res.statusCode}: ${text}`);
    return JSON.parse(text);
  };
  const limits = { rpm: 1_000_000_000, tpm: 1_000_000_000_000 };
  const budget = { usd: 1_000_000_000, period: 'monthly' };
  const org = await admin('/orgs', { name: 'bench-org', limits, budget });
  const team = await admin('/teams', { name: 'bench-team', org_id: org.id, limits, budget });
  const key = await admin('/keys', { name: 'bench-key', team_id: team.id, models: [model], limits: { ...limits, max_parallel: 100_000 }, budget: { ...budget, period: 'daily' } });
  return key.key;
}
