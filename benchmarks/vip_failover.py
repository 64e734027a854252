"""Benchmark: how long the control-plane VIP takes to move, measured client-side, in a lab of namespaces.

  sudo .venv/bin/python benchmarks/vip_failover.py [--reps N] [--settings default,fast]

The lab (benchmarks/vip_lab.py): three control-plane nodes and a client on one switch, a TCP
listener on each node's port 6443 standing in for the API server (it answers with the node's name), and
keepalived in each node set up by the role seed.nodenet.vip (run with ansible-playbook, as a user would).
A prober in the client connects to VIP:6443 every 20 ms; the failover time is from the last answer of the
old holder to the first answer of the new one. Scenarios, each repeated --reps times (cp1 takes the VIP
back in between, since it has the highest priority):

  stop    the holder's keepalived is stopped (it sends a priority-0 advert: the backup takes over at once)
  crash   the holder's link goes down (no more adverts: the backup waits out the master-down interval,
          3 x advert_int + skew time)
  api     the holder's API listener stops (the health check fails `fall` times; with the default weight 0 the
          holder enters FAULT and sends a priority-0 advert, so a backup takes over after its skew time)

Settings: default = the role's defaults (advert_int 0.5 VRRPv3, check every 1 s, fall 2, rise 2, weight 0);
          fast = advert_int 0.1 (VRRPv3), fall 1, rise 1.
Printed next to each median: the bound VRRP's timers give for that scenario (see floors()).
Not a pass/fail test. Needs root, keepalived and the project's .venv (scripts/setup).
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), '.build', 'collections'))

from vip_lab import Lab, Probe, sh, wait_for  # noqa: E402

SETTINGS = {
    'default': {},
    'fast': {'vip_advert_int': '0.1', 'vip_check_fall': 1, 'vip_check_rise': 1},
}


def floors(setting):
    adv = float(SETTINGS[setting].get('vip_advert_int', 0.5))
    fall = SETTINGS[setting].get('vip_check_fall', 2)
    skew = (256 - 190) / 256.0 * adv        # cp2's skew time (priority 190)
    # worst cases the timers allow: a stopped master's priority-0 advert makes a backup wait its skew time; a
    # silent master is declared down 3 adverts + skew after its last one; a failing check puts the holder into FAULT
    # (weight 0) after `fall` checks 1 s apart, and its priority-0 advert lets a backup take over after its skew time
    return {'stop': skew, 'crash': 3 * adv + skew, 'api': fall * 1.0 + skew}


def measure(lab, scenario):
    assert wait_for('cp1 holding the VIP', lambda: lab.holders() == ['cp1'], timeout=60)
    assert wait_for('the client reaching cp1', lambda: lab.ask() == 'cp1', timeout=20)
    probe = Probe(lab, interval=0.02, duration=60)
    try:
        time.sleep(0.3)                      # a stretch of answers from cp1 before the failure
        if scenario == 'stop':
            lab.supervise('cp1', 'stop')
        elif scenario == 'crash':
            sh('ip', '-n', lab.ns['cp1'], 'link', 'set', 'eth0', 'down')
        else:
            lab.stop_listener('cp1')
        wait_for('another node holding the VIP', lambda: [h for h in lab.holders() if h != 'cp1'], timeout=30)
        wait_for('the client answered by the new holder', lambda: lab.ask() not in (None, 'cp1'), timeout=20)
        time.sleep(0.2)
    finally:
        rows = probe.stop()
    # put cp1 back
    if scenario == 'stop':
        lab.supervise('cp1', 'start')
    elif scenario == 'crash':
        sh('ip', '-n', lab.ns['cp1'], 'link', 'set', 'eth0', 'up')
    else:
        lab.start_listener('cp1')
    return Probe.failover(rows, 'cp1')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--settings', default='default,fast')
    ap.add_argument('--scenarios', default='stop,crash,api')
    args = ap.parse_args()
    print('VIP failover, client-side (last answer from the old holder -> first from the new), %d reps' % args.reps)
    print('%-8s %-6s %8s %8s %8s %14s' % ('setting', 'case', 'median', 'min', 'max', 'timer bound'))
    for setting in args.settings.split(','):
        lab = Lab().build()
        try:
            r = lab.playbook(lab.inventory(), extra_vars=SETTINGS[setting])
            if r['rc'] != 0:
                print(r['out'][-3000:])
                raise SystemExit('the role failed')
            for scenario in args.scenarios.split(','):
                times = []
                for dummy in range(args.reps):
                    t = measure(lab, scenario)
                    if t is not None:
                        times.append(t)
                if times:
                    print('%-8s %-6s %7.2fs %7.2fs %7.2fs %13.2fs' % (setting, scenario, statistics.median(times), min(times),
                                                                      max(times), floors(setting)[scenario]), flush=True)
                else:
                    print('%-8s %-6s no failover seen' % (setting, scenario), flush=True)
        finally:
            lab.destroy()
    load = os.getloadavg()[0]
    print('load average during the run: %.1f (%d CPUs)' % (load, os.cpu_count() or 0))


if __name__ == '__main__':
    main()
