"""Make `ansible_collections.hostcare.vps` importable from this checkout, wherever it lives."""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, "tests", "fixtures")


def _collection_root():
    # Already inside .../ansible_collections/hostcare/vps (installed or checked out there)?
    parts = REPO.split(os.sep)
    if parts[-3:-2] == ["ansible_collections"] and parts[-2:] == ["hostcare", "vps"]:
        return os.sep.join(parts[:-3])
    root = os.path.join(REPO, ".build", "collections")
    link = os.path.join(root, "ansible_collections", "hostcare", "vps")
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)
    return root


sys.path.insert(0, _collection_root())
