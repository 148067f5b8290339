#!/usr/bin/python
"""Make sure S3 buckets exist, or that a key reaches them, through boto3."""

DOCUMENTATION = r"""
module: s3_buckets
short_description: Create missing S3 buckets, or check that an access key reaches its buckets
description:
  - Asks an S3-compatible server (SeaweedFS, MinIO, AWS) about each listed bucket with
    C(HeadBucket), signed by the given key through boto3 (no hand-written signing, no CLI).
  - With O(create=true) it creates the buckets that do not exist. With O(create=false) it only
    checks, and fails naming every bucket that is missing or that the key may not reach; that is
    how a consumer's key is proved to work.
  - Buckets that are not listed are never touched, and no bucket is ever deleted.
author:
  - Auterity platform team
requirements:
  - boto3 on the host that runs the module
options:
  endpoint_url:
    description: Address of the S3 API, C(http://host:port) or C(https://host:port).
    type: str
    required: true
  access_key_id:
    description: Access key id that signs the requests.
    type: str
    required: true
    no_log: true
  secret_access_key:
    description: Secret key that signs the requests.
    type: str
    required: true
    no_log: true
  region:
    description: Region the requests are signed for (and that new buckets are created in).
    type: str
    default: us-east-1
  buckets:
    description: Bucket names (3-63 characters of lowercase letters, digits, dots and hyphens).
    type: list
    elements: str
    required: true
  create:
    description: Create the missing buckets (true), or only check that each exists and is reachable (false).
    type: bool
    default: true
  ca_bundle:
    description: CA bundle that verifies an https endpoint; empty uses the system's.
    type: str
    default: ""
  timeout:
    description: Seconds to wait for each request (connect and read).
    type: int
    default: 10
attributes:
  check_mode:
    support: full
    description: Asks about every bucket and reports those it would create, creating nothing.
  diff_mode:
    support: full
    description: Shows the listed buckets that exist before and after (names only).
"""

EXAMPLES = r"""
- name: The stack's buckets
  s3_buckets:
    endpoint_url: http://127.0.0.1:9000
    access_key_id: "{{ stack_secrets['s3_admin_access_key_id'] }}"
    secret_access_key: "{{ stack_secrets['s3_admin_secret_access_key'] }}"
    buckets: [mlflow]
  delegate_to: localhost

- name: MLflow's key reaches its bucket
  s3_buckets:
    endpoint_url: http://127.0.0.1:9000
    access_key_id: "{{ stack_secrets['s3_mlflow_access_key_id'] }}"
    secret_access_key: "{{ stack_secrets['s3_mlflow_secret_access_key'] }}"
    buckets: [mlflow]
    create: false
  delegate_to: localhost
"""

RETURN = r"""
created:
  description: Buckets created (in check mode, those that would be).
  returned: always
  type: list
  elements: str
existing:
  description: Listed buckets that existed already and that the key reaches.
  returned: always
  type: list
  elements: str
"""

import re

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    BOTO3_IMPORT_ERROR = None
except ImportError as error:  # pragma: no cover - reported by the module
    BOTO3_IMPORT_ERROR = error

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MISSING_CODES = {"404", "NoSuchBucket", "NotFound"}

ARGUMENT_SPEC = {
    "endpoint_url": {"type": "str", "required": True},
    "access_key_id": {"type": "str", "required": True, "no_log": True},
    "secret_access_key": {"type": "str", "required": True, "no_log": True},
    "region": {"type": "str", "default": "us-east-1"},
    "buckets": {"type": "list", "elements": "str", "required": True},
    "create": {"type": "bool", "default": True},
    "ca_bundle": {"type": "str", "default": ""},
    "timeout": {"type": "int", "default": 10},
}


def bucket_state(client, bucket):
    """present, missing, or the error code that refused the key."""
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in MISSING_CODES:
            return "missing"
        return code or "error"
    return "present"


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if BOTO3_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("boto3"), exception=str(BOTO3_IMPORT_ERROR))
    params = module.params
    invalid = [name for name in params["buckets"] if not BUCKET_NAME.match(name)]
    if invalid:
        module.fail_json(msg=f"Invalid bucket names (3-63 of a-z, 0-9, '.', '-'): {', '.join(invalid)}")
    if not re.match(r"^https?://[^/\s]+$", params["endpoint_url"]):
        module.fail_json(msg=f"endpoint_url must be http(s)://host:port, is {params['endpoint_url']!r}")

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=params["endpoint_url"],
        aws_access_key_id=params["access_key_id"],
        aws_secret_access_key=params["secret_access_key"],
        region_name=params["region"],
        verify=params["ca_bundle"] or True,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=params["timeout"],
            read_timeout=params["timeout"],
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    )
    wanted = list(dict.fromkeys(params["buckets"]))
    try:
        states = {bucket: bucket_state(client, bucket) for bucket in wanted}
    except BotoCoreError as error:
        module.fail_json(msg=f"S3 API at {params['endpoint_url']} not reachable: {error}")

    refused = {bucket: state for bucket, state in states.items() if state not in ("present", "missing")}
    if refused:
        module.fail_json(
            msg="The key may not reach these buckets (error code per bucket): "
            + ", ".join(f"{bucket} ({code})" for bucket, code in refused.items()),
            refused=refused,
        )
    existing = [bucket for bucket in wanted if states[bucket] == "present"]
    missing = [bucket for bucket in wanted if states[bucket] == "missing"]
    if missing and not params["create"]:
        module.fail_json(msg=f"Buckets missing: {', '.join(missing)}", missing=missing, existing=existing)

    if missing and not module.check_mode:
        for bucket in missing:
            arguments = {"Bucket": bucket}
            # us-east-1 takes no location constraint; every other region needs one.
            if params["region"] != "us-east-1":
                arguments["CreateBucketConfiguration"] = {"LocationConstraint": params["region"]}
            try:
                client.create_bucket(**arguments)
            except (BotoCoreError, ClientError) as error:
                module.fail_json(
                    msg=f"Creating bucket {bucket} failed: {error}", created=missing[: missing.index(bucket)]
                )
    module.exit_json(
        changed=bool(missing),
        created=missing,
        existing=existing,
        diff={"before": {"buckets": existing}, "after": {"buckets": existing + missing}},
    )


if __name__ == "__main__":
    main()
