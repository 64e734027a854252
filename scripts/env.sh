# shellcheck shell=bash
# Sourced by the scripts: the project's venv and a collections path that contains this checkout.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ ! -x "$ROOT/.venv/bin/ansible-playbook" ]; then
  echo "The project environment is missing: run scripts/setup first." >&2
  exit 1
fi
mkdir -p "$ROOT/.build/collections/ansible_collections/seed"
[ -L "$ROOT/.build/collections/ansible_collections/seed/nodenet" ] || ln -sfn "$ROOT" "$ROOT/.build/collections/ansible_collections/seed/nodenet"
export PATH="$ROOT/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.build/collections"
export ANSIBLE_PYTHON_INTERPRETER="$ROOT/.venv/bin/python"
export ANSIBLE_LOCALHOST_WARNING=false
export ANSIBLE_INVENTORY_UNPARSED_WARNING=false
export ANSIBLE_NOCOLOR=${ANSIBLE_NOCOLOR:-1}
