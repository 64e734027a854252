"""AWX / Automation Controller: the execution environment definition and ansible-runner.

- ansible-builder introspect finds the collection's own requirements (meta/execution-environment.yml).
- ansible-builder create writes the build context for ee/execution-environment.yml (schema 3), with
  this collection's tarball in it; there is no container engine here, so the image itself is not built.
- playbooks/demo.yml through ansible-runner: `run`, and the transmit | worker | process chain AWX uses
  between its control plane and an execution node; both apply the demo to a scratch namespace.
"""
import json
import os
import shutil
import subprocess

import pytest
import yaml

from testlib import scratch_netns

from .common import ROOT, VENV, build_tarball, run, scratch


@pytest.fixture(scope='module')
def work():
    d = scratch('nnee-')
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope='module')
def tarball(work):
    return build_tarball(os.path.join(work, 'dist'))


def test_introspect_finds_the_collections_requirements(work, tarball):
    coll = os.path.join(work, 'collections')
    p = run(['ansible-galaxy', 'collection', 'install', '--offline', '--force', '-p', coll, tarball],
            ANSIBLE_COLLECTIONS_PATH=coll)
    assert p.returncode == 0, p.stdout
    p = run(['ansible-builder', 'introspect', '--sanitize', coll])
    assert p.returncode == 0, p.stdout
    data = yaml.safe_load(p.stdout.split('---', 1)[1])
    python = [line.split('#')[0].strip() for line in data['python'] if 'from collection seed.nodenet' in line]
    system = [line.split('#')[0].strip() for line in data['system'] if 'from collection seed.nodenet' in line]
    assert {'pyroute2>=0.7.3', 'cryptography>=42'} <= set(python), p.stdout
    assert {'iproute2 [platform:dpkg]', 'nftables', 'wireguard-tools'} <= set(system), p.stdout


def test_builder_create_writes_a_context_with_this_collection(work, tarball):
    ee = os.path.join(work, 'ee')
    shutil.copytree(os.path.join(ROOT, 'ee'), ee)
    shutil.copy(tarball, os.path.join(ee, 'seed-nodenet.tar.gz'))
    with open(os.path.join(ee, 'execution-environment.yml')) as f:
        assert yaml.safe_load(f)['version'] == 3
    ctx = os.path.join(work, 'context')
    p = run(['ansible-builder', 'create', '-f', os.path.join(ee, 'execution-environment.yml'), '-c', ctx,
             '--output-filename', 'Containerfile'])
    assert p.returncode == 0, p.stdout
    with open(os.path.join(ctx, 'Containerfile')) as f:
        containerfile = f.read()
    assert 'COPY _build/nodenet/ /tmp/nodenet/' in containerfile
    assert 'ansible-galaxy' in containerfile and 'introspect' in containerfile
    assert os.path.getsize(os.path.join(ctx, '_build', 'nodenet', 'seed-nodenet.tar.gz')) == os.path.getsize(tarball)
    with open(os.path.join(ctx, '_build', 'requirements.yml')) as f:
        assert yaml.safe_load(f)['collections'][0]['name'] == '/tmp/nodenet/seed-nodenet.tar.gz'


def private_data_dir(work, name, ns):
    """An ansible-runner private data dir as AWX makes one for a job template: project, inventory, extra vars."""
    pdd = os.path.join(work, name)
    os.makedirs(os.path.join(pdd, 'project'))
    os.makedirs(os.path.join(pdd, 'inventory'))
    os.makedirs(os.path.join(pdd, 'env'))
    shutil.copy(os.path.join(ROOT, 'playbooks', 'demo.yml'), os.path.join(pdd, 'project', 'demo.yml'))
    with open(os.path.join(pdd, 'inventory', 'hosts'), 'w') as f:
        f.write('localhost ansible_connection=local ansible_python_interpreter=%s\n' % os.path.join(VENV, 'python'))
    with open(os.path.join(pdd, 'env', 'extravars'), 'w') as f:
        json.dump({'nodenet_netns': ns}, f)
    with open(os.path.join(pdd, 'env', 'envvars'), 'w') as f:
        json.dump({'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, '.build', 'collections'), 'ANSIBLE_NOCOLOR': '1'}, f)
    return pdd


@pytest.fixture
def netns():
    with scratch_netns('nnee') as name:
        yield name


def applied(ns):
    links = json.loads(subprocess.run(['ip', '-j', '-n', ns, 'link', 'show'], capture_output=True, text=True, check=True).stdout)
    return {l['ifname']: l for l in links}


def test_runner_run(work, netns):
    pdd = private_data_dir(work, 'run', netns)
    p = run(['ansible-runner', 'run', pdd, '-p', 'demo.yml', '--ident', 'job1'])
    assert p.returncode == 0, p.stdout[-4000:]
    with open(os.path.join(pdd, 'artifacts', 'job1', 'status')) as f:
        assert f.read().strip() == 'successful'
    assert applied(netns)['vm0']['master'] == 'br-vms'


def test_runner_transmit_worker_process(work, netns):
    """The chain AWX runs: transmit on the control node, worker on the execution node, process back."""
    pdd = private_data_dir(work, 'chain', netns)
    wdir = os.path.join(work, 'worker')
    os.makedirs(wdir)
    runner = os.path.join(VENV, 'ansible-runner')
    cmd = '%s transmit %s -p demo.yml | %s worker --private-data-dir %s | %s process %s' % (
        runner, pdd, runner, wdir, runner, pdd)
    p = run(['bash', '-o', 'pipefail', '-c', cmd])
    assert p.returncode == 0, p.stdout[-4000:]
    assert 'changed=2' in p.stdout and 'failed=0' in p.stdout, p.stdout[-4000:]
    statuses = [os.path.join(r, 'status') for r, dummy, files in os.walk(os.path.join(pdd, 'artifacts')) if 'status' in files]
    assert statuses, 'process wrote no artifacts'
    with open(statuses[0]) as f:
        assert f.read().strip() == 'successful'
    assert applied(netns)['uplink0']['mtu'] == 9000
