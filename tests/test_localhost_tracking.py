"""Experiment tracking on the all-in-one stack, through MLflow's own client library: an
authenticated user logs a run with params, metrics and an artifact and reads it all back; a
request without a login is refused; the artifact is an object in the S3 store's bucket; the
run and its artifact survive a re-creation of the server with a changed configuration.

test_localhost_stack.py deploys the stack first (same pytest run). The run is logged, and the
server re-created with a changed configuration, by fixtures of conftest.py (logged_run,
redeployed); the server keeps that configuration until the session ends."""

import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from localhost import MLFLOW, container_id, secret

pytestmark = pytest.mark.usefixtures("localhost_stack_left_as_found")

S3 = "http://127.0.0.1:9000"


def read_back(client, logged_run, tmp_path):
    run = client.get_run(logged_run["run_id"])
    history = [metric.value for metric in client.get_metric_history(run.info.run_id, "loss")]
    downloaded = client.download_artifacts(run.info.run_id, "model-card.txt", str(tmp_path))
    return run, history, open(downloaded).read()


def test_an_authenticated_user_logs_a_run_and_reads_it_back(mlflow_client, logged_run, tmp_path):
    run, history, artifact_text = read_back(mlflow_client, logged_run, tmp_path)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"learning_rate": "0.01"}
    assert history == [0.9, 0.5, 0.2]
    assert artifact_text == logged_run["artifact"].read_text()
    # Proxied artifacts: the client never sees the store, only the server's own scheme.
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")


def test_a_request_without_a_login_is_refused():
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{MLFLOW}/api/2.0/mlflow/experiments/search?max_results=1", timeout=10)
    assert refused.value.code == 401
    # The health endpoint stays open for probes.
    with urllib.request.urlopen(f"{MLFLOW}/health", timeout=10) as health:
        assert health.status == 200


def test_the_artifact_is_an_object_in_the_store_bucket(logged_run):
    s3 = boto3.client(
        "s3",
        endpoint_url=S3,
        aws_access_key_id=secret("s3_mlflow_access_key_id"),
        aws_secret_access_key=secret("s3_mlflow_secret_access_key"),
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    listed = s3.list_objects_v2(Bucket="mlflow", Prefix="artifacts/")
    keys = [entry["Key"] for entry in listed.get("Contents", [])]
    wanted = [key for key in keys if logged_run["run_id"] in key and key.endswith("/model-card.txt")]
    assert wanted, keys
    body = s3.get_object(Bucket="mlflow", Key=wanted[0])["Body"].read().decode()
    assert body == logged_run["artifact"].read_text()


def test_the_run_survives_a_recreation_with_a_changed_config(mlflow_client, logged_run, redeployed, tmp_path):
    # The run was logged before the `redeployed` run re-created the server (mlflow_workers=1).
    assert container_id("mlflow") != redeployed.before.mlflow_container
    run, history, artifact_text = read_back(mlflow_client, logged_run, tmp_path)
    assert run.data.params == {"learning_rate": "0.01"}
    assert history == [0.9, 0.5, 0.2]
    assert artifact_text == logged_run["artifact"].read_text()
