// The host's firewall rules of a network, set once per network instead of once per container
// (netavark's approach). The bridge plugin's ipMasq made a NAT chain per container and the
// firewall plugin added FORWARD rules per container: some 15 iptables runs on every start and
// again on every stop, 160 ms of a 610 ms `run --rm` on the 2-core test machine. The plugins now
// do only the per-container part (veth, address, routes; portmap for published ports), and these
// rules cover the network's subnet:
//
//   filter  TSBUILD-FORWARD (jumped to first from FORWARD)
//           -d SUBNET -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT   replies to containers
//           -s SUBNET -j ACCEPT                                              traffic from them
//   nat     TSBUILD-POSTROUTING (jumped to from POSTROUTING), not for --internal networks
//           -s SUBNET -d SUBNET -j RETURN                                    the network itself
//           -s SUBNET ! -d 224.0.0.0/4 -j MASQUERADE                         everything else out
//
// Each rule carries the comment "tsbuild network NAME SUBNET". Every attach checks them with one
// iptables-save (a flush by an admin or a firewall reload is mended at the next start); they go
// when the network is removed and no root still has addresses on it. Networks are machine-wide by
// name, like host-local's allocations (records.ts), so the host lock serialises changes.
import { TsbuildError } from '../errors.js';
import { execFile } from '../util/exec.js';
import { hostLock } from './records.js';
import type { NetworkRecord } from './types.js';

const FORWARD_CHAIN = 'TSBUILD-FORWARD';
const NAT_CHAIN = 'TSBUILD-POSTROUTING';

interface Rule {
  table: 'filter' | 'nat';
  chain: string;
  spec: string[];
}

function comment(network: NetworkRecord): string {
  return `tsbuild network ${network.name} ${network.subnet}`;
}

function rulesOf(network: NetworkRecord): Rule[] {
  const tag = ['-m', 'comment', '--comment', comment(network)];
  const subnet = network.subnet;
  const rules: Rule[] = [
    { table: 'filter', chain: FORWARD_CHAIN, spec: ['-d', subnet, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', ...tag, '-j', 'ACCEPT'] },
    { table: 'filter', chain: FORWARD_CHAIN, spec: ['-s', subnet, ...tag, '-j', 'ACCEPT'] },
  ];
  if (!network.internal) {
    rules.push(
      { table: 'nat', chain: NAT_CHAIN, spec: ['-s', subnet, '-d', subnet, ...tag, '-j', 'RETURN'] },
      { table: 'nat', chain: NAT_CHAIN, spec: ['-s', subnet, '!', '-d', '224.0.0.0/4', ...tag, '-j', 'MASQUERADE'] },
    );
  }
  return rules;
}

async function iptables(args: string[], allowFailure = false): Promise<boolean> {
  const result = await execFile(['iptables', '--wait', ...args], { allowExitCodes: allowFailure ? [1, 2] : [] }).catch((err: unknown) => {
    throw new TsbuildError('RUNTIME', `iptables ${args.join(' ')}: ${(err as Error).message}`, { exitCode: 125 });
  });
  return result.exitCode === 0;
}

async function savedRules(): Promise<string> {
  return (await execFile(['iptables-save'])).stdout;
}

function complete(saved: string, network: NetworkRecord): boolean {
  const tagged = saved.split('\n').filter((line) => line.includes(`--comment "${comment(network)}"`)).length;
  return tagged === rulesOf(network).length && saved.includes(`-A FORWARD -j ${FORWARD_CHAIN}`) && (network.internal || saved.includes(`-A POSTROUTING -j ${NAT_CHAIN}`));
}

/** Makes sure the network's rules are in place (one iptables-save when they are). */
export async function ensureNetworkRules(network: NetworkRecord): Promise<void> {
  if (complete(await savedRules(), network)) return;
  await hostLock(async () => {
    const saved = await savedRules();
    if (complete(saved, network)) return;
    for (const [table, chain, parent] of [['filter', FORWARD_CHAIN, 'FORWARD'], ['nat', NAT_CHAIN, 'POSTROUTING']] as const) {
      if (table === 'nat' && network.internal) continue;
      if (!saved.includes(`:${chain} `)) await iptables(['-t', table, '-N', chain], true);
      // First in FORWARD, as the firewall plugin puts its own chain: ahead of a DROP policy's rules.
      if (!saved.includes(`-A ${parent} -j ${chain}`)) await iptables(['-t', table, '-I', parent, '1', '-j', chain]);
    }
    // Half a set (an interrupted attach, a hand edit) is replaced whole, so no rule is doubled.
    await deleteRules(network);
    for (const rule of rulesOf(network)) await iptables(['-t', rule.table, '-A', rule.chain, ...rule.spec]);
  });
}

async function deleteRules(network: NetworkRecord): Promise<void> {
  for (const rule of rulesOf(network)) {
    // -D removes one copy per run: repeat until none is left.
    while (await iptables(['-t', rule.table, '-D', rule.chain, ...rule.spec], true));
  }
}

/** Removes the network's rules; for records.ts's removal, which holds the host lock and knows no root has addresses on it. */
export const removeNetworkRules = deleteRules;
