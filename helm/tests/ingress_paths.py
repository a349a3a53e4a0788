"""Renders the chart's Ingress and checks what it lets the world reach: by default
every OAuth endpoint the server defines (read from its source, so a new endpoint
cannot be forgotten here) and the stylesheet, nothing else; the user and admin pages
only when their values ask for them; and never `/`.

Usage: ingress_paths.py HELM CHART SERVER_SOURCE_DIR
"""

import re
import subprocess
import sys

import yaml

helm, chart, source = sys.argv[1], sys.argv[2], sys.argv[3]


def constants(path):
    """The `const ..._PATH` / `..._ALIAS` string values of one Rust file, by name."""
    text = open(f"{source}/{path}").read()
    return dict(re.findall(r'const (\w+(?:PATH|ALIAS)): &str = "([^"]+)";', text))


# Both files name an AUTHORIZE_PATH: the endpoints are the union of their values.
oauth = set(constants("http/mod.rs").values()) | set(constants("http/oauth2.rs").values())
web = constants("web/mod.rs")
if len(oauth) < 10 or not {"STYLESHEET_PATH", "AUTHORIZATIONS_PATH", "JIRA_AUTHORIZATIONS_PATH", "ADMIN_PATH"} <= web.keys():
    sys.exit(f"could not read the server's paths: {oauth} {web}")
endpoints = oauth | {web["STYLESHEET_PATH"]}


def routes(*settings):
    """The (path, pathType) pairs of the rendered Ingress with `settings` set."""
    arguments = [helm, "template", "latchkey", chart, "--show-only", "templates/ingress.yaml",
                 "--set", "ingress.enabled=true", "--set", "ingress.hosts[0].host=auth.example.com"]
    for setting in settings:
        arguments += ["--set", setting]
    rendered = yaml.safe_load(subprocess.run(arguments, check=True, capture_output=True, text=True).stdout)
    [rule] = rendered["spec"]["rules"]
    return {(p["path"], p["pathType"]) for p in rule["http"]["paths"]}


def fail(message, found):
    sys.exit(f"ingress: {message}; it routes {sorted(found)}")


default = routes()
if {path for path, _ in default} != endpoints:
    fail(f"by default it must route exactly the OAuth endpoints {sorted(endpoints)}", default)
if any(kind != "Exact" for _, kind in default):
    fail("the default paths must be Exact", default)

users = routes("ingress.exposeUserPages=true")
if users - default != {(web["AUTHORIZATIONS_PATH"], "Prefix"), (web["JIRA_AUTHORIZATIONS_PATH"], "Exact")}:
    fail("exposeUserPages must add /web/authorizations and Jira's path to it, nothing else", users)

admin = routes("ingress.exposeAdminPages=true")
if admin - default != {(web["ADMIN_PATH"], "Prefix")}:
    fail("exposeAdminPages must add /web/admin and nothing else", admin)

for found in (default, users, admin):
    if any(path == "/" for path, _ in found):
        fail("nothing may route /", found)
for found in (default, users):
    if any(path.startswith(web["ADMIN_PATH"]) for path, _ in found):
        fail("/web/admin needs ingress.exposeAdminPages", found)

print(f"the ingress routes {len(endpoints) - 1} OAuth paths and the stylesheet; web pages only when asked")
