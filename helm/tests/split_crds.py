"""Copies a rendered manifest stream without the documents whose kind is a custom
resource (the Prometheus Operator's ServiceMonitor), which Kubernetes' own schemas do
not describe, and checks that those it drops are the ones expected.

Usage: split_crds.py rendered.yaml core-only.yaml
"""

import re
import sys

CUSTOM = {"ServiceMonitor": "monitoring.coreos.com/v1"}

source, target = sys.argv[1], sys.argv[2]
kept, dropped = [], []
for document in re.split(r"^---\s*$", open(source).read(), flags=re.M):
    kind = re.search(r"^kind:\s*(\S+)", document, flags=re.M)
    if kind and kind.group(1) in CUSTOM:
        api = re.search(r"^apiVersion:\s*(\S+)", document, flags=re.M)
        if not api or api.group(1) != CUSTOM[kind.group(1)]:
            sys.exit(f"{kind.group(1)} has apiVersion {api and api.group(1)}, expected {CUSTOM[kind.group(1)]}")
        if not re.search(r"^\s+- port: metrics$", document, flags=re.M):
            sys.exit("the ServiceMonitor does not scrape the metrics port")
        dropped.append(kind.group(1))
    elif document.strip():
        kept.append(document)
open(target, "w").write("---".join(["\n"] + [d if d.endswith("\n") else d + "\n" for d in kept]))
print(f"checked and set aside for schema validation: {', '.join(dropped) or 'nothing'}")
