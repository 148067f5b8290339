"""Documentation of the connection options that the Kafka modules share (kafka_topic, kafka_user)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  bootstrap_servers:
    description:
      - Brokers to connect to first, as C(host:port). One reachable broker is enough; listing
        several lets the task run while one is down.
    type: list
    elements: str
    required: true
  timeout:
    description:
      - Seconds to reach the cluster and for each request. While the cluster is still starting
        (no broker registered, no controller yet) the module retries within this time; then it
        fails, naming the bootstrap servers.
    type: int
    default: 30
  security_protocol:
    description:
      - Protocol of the listener at O(bootstrap_servers).
    type: str
    choices: [PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL]
    default: PLAINTEXT
  sasl_mechanism:
    description:
      - SASL mechanism, with O(security_protocol) C(SASL_PLAINTEXT) or C(SASL_SSL).
    type: str
    choices: [PLAIN, SCRAM-SHA-256, SCRAM-SHA-512]
  sasl_username:
    description:
      - SASL user name.
    type: str
  sasl_password:
    description:
      - SASL password.
    type: str
  ssl_cafile:
    description:
      - File (on the managed host) of the CA certificates that signed the brokers' certificates.
        Without it or O(ssl_ca_content), the system's trust store is used.
    type: path
  ssl_ca_content:
    description:
      - The CA certificates as PEM text, instead of O(ssl_cafile).
    type: str
  ssl_certfile:
    description:
      - Client certificate file (PEM) for brokers that require TLS client authentication.
    type: path
  ssl_cert_content:
    description:
      - The client certificate as PEM text, instead of O(ssl_certfile).
    type: str
  ssl_keyfile:
    description:
      - Private key file (PEM) of the client certificate.
    type: path
  ssl_key_content:
    description:
      - The client certificate's private key as PEM text, instead of O(ssl_keyfile).
    type: str
  ssl_key_password:
    description:
      - Password of an encrypted private key.
    type: str
  ssl_check_hostname:
    description:
      - Whether a broker's certificate must match the host name connected to.
    type: bool
    default: true
"""
