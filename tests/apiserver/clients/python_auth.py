"""Proof against the Python `kubernetes` client (PyPI), which nobody here wrote, of
ServiceAccount authentication and RBAC.

Usage: python python_auth.py ADMIN_KUBECONFIG SA_KUBECONFIG
SA_KUBECONFIG holds a token of the ServiceAccount `reader` of namespace `pyauth` and
talks HTTPS with the cluster CA. Checks: the token is refused (403, kube-apiserver's
Status) until a Role and RoleBinding allow it, then allowed for what they name only; a
garbage token is 401; TokenReview accepts the token and rejects a tampered one.
Prints "OK" and exits 0 when every check passes.
"""

import base64
import json
import sys

import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

NS = "pyauth"
USER = "system:serviceaccount:pyauth:reader"


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def status_of(call):
    try:
        call()
    except ApiException as e:
        return e.status, json.loads(e.body or "{}")
    return 200, {}


def main(admin_cfg, sa_cfg):
    admin = config.new_client_from_config(config_file=admin_cfg)
    sa = config.new_client_from_config(config_file=sa_cfg)
    admin_core, sa_core = client.CoreV1Api(admin), client.CoreV1Api(sa)
    rbac = client.RbacAuthorizationV1Api(admin)

    code, body = status_of(lambda: sa_core.read_namespaced_config_map("kube-root-ca.crt", NS))
    check(code == 403, f"get before the binding: {code} {body}")
    check(body.get("reason") == "Forbidden", f"reason: {body}")
    check(
        body.get("message")
        == f'configmaps "kube-root-ca.crt" is forbidden: User "{USER}" cannot get resource "configmaps" in API group "" in the namespace "{NS}"',
        f"message: {body}",
    )
    check(body.get("details") == {"name": "kube-root-ca.crt", "kind": "configmaps"}, f"details: {body}")
    code, _ = status_of(lambda: sa_core.list_namespaced_config_map(NS))
    check(code == 403, f"list before the binding: {code}")

    rbac.create_namespaced_role(NS, client.V1Role(
        metadata=client.V1ObjectMeta(name="cm-reader"),
        rules=[client.V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=["get", "list"])],
    ))
    rbac.create_namespaced_role_binding(NS, client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name="cm-reader"),
        role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="cm-reader"),
        subjects=[client.RbacV1Subject(kind="ServiceAccount", name="reader", namespace=NS)],
    ))

    cm = sa_core.read_namespaced_config_map("kube-root-ca.crt", NS)
    check(cm.data["ca.crt"].startswith("-----BEGIN CERTIFICATE-----"), "the root CA")
    names = [c.metadata.name for c in sa_core.list_namespaced_config_map(NS).items]
    check("kube-root-ca.crt" in names, f"list after the binding: {names}")
    code, _ = status_of(lambda: sa_core.read_namespaced_secret("anything", NS))
    check(code == 403, f"secrets stay forbidden: {code}")
    code, _ = status_of(lambda: sa_core.list_namespaced_config_map("default"))
    check(code == 403, f"other namespaces stay forbidden: {code}")

    with open(sa_cfg) as f:
        token = yaml.safe_load(f)["users"][0]["user"]["token"]
    garbage = client.ApiClient(sa.configuration)
    garbage.configuration.api_key = {"authorization": "Bearer not-a-token"}
    garbage.set_default_header("Authorization", "Bearer not-a-token")
    code, body = status_of(lambda: client.CoreV1Api(garbage).list_namespaced_config_map(NS))
    check(code == 401 and body.get("reason") == "Unauthorized", f"garbage token: {code} {body}")

    authn = client.AuthenticationV1Api(admin)
    review = authn.create_token_review(client.V1TokenReview(spec=client.V1TokenReviewSpec(token=token)))
    check(review.status.authenticated is True, f"review: {review.status}")
    check(review.status.user.username == USER, f"user: {review.status.user}")
    check(f"system:serviceaccounts:{NS}" in review.status.user.groups, "groups")

    head, claims, sig = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    decoded["sub"] = "system:serviceaccount:pyauth:admin"
    forged = base64.urlsafe_b64encode(json.dumps(decoded).encode()).decode().rstrip("=")
    tampered = authn.create_token_review(
        client.V1TokenReview(spec=client.V1TokenReviewSpec(token=f"{head}.{forged}.{sig}"))
    )
    check(tampered.status.authenticated is not True, f"tampered: {tampered.status}")
    check("invalid bearer token" in (tampered.status.error or ""), f"error: {tampered.status.error}")
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
