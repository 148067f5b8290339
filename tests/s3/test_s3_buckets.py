"""s3_buckets against the session's SeaweedFS server: buckets created once, check mode, a
consumer's key proved (or refused, naming the bucket and never the secret), and endpoints that
are refused or unreachable."""

import socket

import seaweedfs_server


def test_missing_buckets_are_created_then_nothing_to_do(s3_buckets, s3, uid):
    buckets = [f"{uid}-a", f"{uid}-b"]
    run = s3_buckets(buckets=buckets, verbose=True)
    assert run.rc == 0, run.output
    assert not run.failed, run.output
    assert run.changed
    assert run.result["created"] == buckets
    assert run.result["existing"] == []
    assert set(buckets) <= s3.buckets()
    assert s3.admin.secret_access_key not in run.output

    again = s3_buckets(buckets=buckets)
    assert again.rc == 0, again.output
    assert not again.failed, again.output
    assert not again.changed
    assert again.result["created"] == []
    assert again.result["existing"] == buckets


def test_check_mode_reports_what_it_would_create_and_creates_nothing(s3_buckets, s3, uid):
    new = f"{uid}-new"
    run = s3_buckets(buckets=[s3.consumer_bucket, new], check=True, diff=True)
    assert run.rc == 0, run.output
    assert not run.failed, run.output
    assert run.changed
    assert run.result["created"] == [new]
    assert run.result["existing"] == [s3.consumer_bucket]
    assert run.result["diff"] == {
        "before": {"buckets": [s3.consumer_bucket]},
        "after": {"buckets": [s3.consumer_bucket, new]},
    }
    # --diff shows the bucket it would add.
    assert any(line.startswith("+") and new in line for line in run.output.splitlines()), run.output
    assert new not in s3.buckets()


def test_consumer_key_reaches_its_bucket(s3_buckets, s3):
    run = s3_buckets(key=s3.consumer, buckets=[s3.consumer_bucket], create=False, verbose=True)
    assert run.rc == 0, run.output
    assert not run.failed, run.output
    assert not run.changed
    assert run.result["existing"] == [s3.consumer_bucket]
    assert s3.consumer.secret_access_key not in run.output


def test_wrong_secret_fails_naming_the_bucket_not_the_secret(s3_buckets, s3):
    wrong = seaweedfs_server.Key(s3.consumer.access_key_id, "not-the-consumer-secret-0123456789")
    run = s3_buckets(key=wrong, buckets=[s3.consumer_bucket], create=False, verbose=True)
    assert run.failed
    message = run.result["msg"]
    assert "may not reach" in message
    assert s3.consumer_bucket in message
    assert message in run.output
    assert wrong.secret_access_key not in run.output
    assert wrong.secret_access_key not in str(run.result)


def test_bucket_the_consumer_may_not_reach_fails_naming_it(s3_buckets, s3, uid):
    other = f"{uid}-other"
    s3.client().create_bucket(Bucket=other)
    run = s3_buckets(key=s3.consumer, buckets=[s3.consumer_bucket, other], create=False, verbose=True)
    assert run.failed
    message = run.result["msg"]
    assert "may not reach" in message
    assert other in message
    assert s3.consumer_bucket not in message  # the bucket it reaches is not blamed
    assert list(run.result["refused"]) == [other]
    assert message in run.output
    assert s3.consumer.secret_access_key not in run.output


def test_bad_endpoint_url_is_refused_before_any_connection(s3_buckets, uid):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}/s3"
        run = s3_buckets(endpoint_url=endpoint, buckets=[f"{uid}-a"])
        listener.setblocking(False)
        try:
            listener.accept()
            connected = True
        except BlockingIOError:
            connected = False
    assert run.failed
    assert "endpoint_url" in run.result["msg"]
    assert endpoint in run.result["msg"]
    assert run.result["msg"] in run.output
    assert not connected, "the module connected to an endpoint_url it should have refused"


def test_unreachable_endpoint_fails_saying_so(s3_buckets, uid):
    endpoint = f"http://127.0.0.1:{seaweedfs_server.free_port()}"  # nothing listens there
    run = s3_buckets(endpoint_url=endpoint, buckets=[f"{uid}-a"], timeout=2)
    assert run.failed
    message = run.result["msg"]
    assert "not reachable" in message
    assert endpoint in message
    assert message in run.output
