#!/bin/sh
# The library's sources and installed headers stand alone: they never point
# a reader at a file that is not part of the project (a team-internal note)
# or at a tracker number. Rules they rely on are stated in docs/ pages
# (docs/security.md, docs/examples.md) or where they apply.
top=${1:?usage: check_doc_refs.sh SOURCE_ROOT}
if grep -rnE 'SECURITY\.md|STYLE\.md|CLI\.md|ARCHITECTURE\.md|shared/|issue [0-9]' \
    "$top/lib" "$top/include"; then
  echo "FAIL: references above point outside the project"
  exit 1
fi
echo ok
