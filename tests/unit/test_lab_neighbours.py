"""The lab warns when a full-mesh lab outgrows the neighbour table every namespace of this machine shares."""
import math

import pytest

from ansible_collections.seed.nodenet.plugins.module_utils.nodenet import lab


def _limit():
    limit = lab.neighbour_limit()
    if limit is None:
        pytest.skip('this machine has no /proc/sys/net/*/neigh/default/gc_thresh3 to read')
    return limit


def test_a_lab_that_fits_gets_no_warning():
    assert lab.neighbour_warning(math.isqrt(_limit())) is None


def test_one_node_more_than_fits_is_warned_about_by_name():
    limit = _limit()
    n = math.isqrt(limit) + 1
    warning = lab.neighbour_warning(n)
    assert warning is not None
    assert 'a lab of %d nodes' % n in warning and 'gc_thresh3 (%s)' % limit in warning
    assert 'neighbor table overflow' in warning
