"""Proof that experiments are tracked, run inside the MLflow container (its login from the auth
app's configuration, its S3 key): a run is logged with a param, a metric and an artifact
through the server, then read back, and the artifact is looked for in the S3 bucket. Prints one
JSON document. The artifacts destination (s3://bucket/prefix) is the first argument."""

import configparser
import json
import os
import sys
import tempfile
import urllib.parse
import uuid

import boto3
from botocore.config import Config
from mlflow.tracking import MlflowClient

EXPERIMENT = "stack-verify"
destination = urllib.parse.urlparse(sys.argv[1])
auth = configparser.ConfigParser()
auth.read(os.environ.get("MLFLOW_AUTH_CONFIG_PATH", "/nonexistent"))
if auth.has_section("mlflow"):
    os.environ["MLFLOW_TRACKING_USERNAME"] = auth["mlflow"]["admin_username"]
    os.environ["MLFLOW_TRACKING_PASSWORD"] = auth["mlflow"]["admin_password"]
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")

client = MlflowClient(sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:5000")
experiment = client.get_experiment_by_name(EXPERIMENT)
experiment_id = experiment.experiment_id if experiment else client.create_experiment(EXPERIMENT)
token = uuid.uuid4().hex
run_id = client.create_run(experiment_id).info.run_id
client.log_param(run_id, "token", token)
client.log_metric(run_id, "score", 1.0)
with tempfile.TemporaryDirectory() as directory:
    artifact = os.path.join(directory, "verify.txt")
    with open(artifact, "w") as output:
        output.write(token)
    client.log_artifact(run_id, artifact)
    client.set_terminated(run_id)
    run = client.get_run(run_id)
    with open(client.download_artifacts(run_id, "verify.txt", directory)) as downloaded:
        artifact_back = downloaded.read()

s3 = boto3.client(
    "s3", endpoint_url=os.environ.get("MLFLOW_S3_ENDPOINT_URL"), config=Config(s3={"addressing_style": "path"})
)
prefix = destination.path.strip("/")
keys = [
    entry["Key"]
    for entry in s3.list_objects_v2(Bucket=destination.netloc, Prefix=f"{prefix}/{experiment_id}/{run_id}/").get(
        "Contents", []
    )
]
wanted = [key for key in keys if key.endswith("/verify.txt")]
object_body = s3.get_object(Bucket=destination.netloc, Key=wanted[0])["Body"].read().decode() if wanted else ""

print(
    json.dumps(
        {
            "experiment_id": experiment_id,
            "run_id": run_id,
            "param_back": run.data.params.get("token") == token,
            "metric_back": run.data.metrics.get("score") == 1.0,
            "artifact_back": artifact_back == token,
            "s3_object": f"s3://{destination.netloc}/{wanted[0]}" if wanted else "",
            "s3_object_matches": object_body == token,
        }
    )
)
