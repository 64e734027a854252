"""Make the collection importable as ansible_collections.seed.nodenet for every test tier."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, '.build', 'collections')
LINK = os.path.join(COLLECTIONS, 'ansible_collections', 'seed', 'nodenet')

if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    try:
        os.symlink(ROOT, LINK)
    except FileExistsError:
        pass
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
# testlib.py (helpers every tier shares) beside this file
if os.path.dirname(os.path.abspath(__file__)) not in sys.path:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault('ANSIBLE_COLLECTIONS_PATH', COLLECTIONS)

# Load the collection through Ansible's own collection finder from the start. pytest-ansible
# (--ansible-unit-inject-only, pytest.ini) installs that finder only when the session starts, after
# the tiers' conftest files have imported engine modules the plain way; a module imported after
# that then fails with "collection metadata was not loaded for collection seed.nodenet".
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder  # noqa: E402

_AnsibleCollectionFinder(paths=[COLLECTIONS])._install()  # pylint: disable=protected-access
