# workerd config for examples/worker.ts (bundled to worker.js beside this
# file). Settings come from the environment; nothing secret is in here.
#
#   workerd serve examples/worker.capnp        # listens on :8080
#
# A private CA (a test or company mail server) is trusted by the network
# the worker uses for outgoing connections: put its PEM in ca.pem beside
# this file. For a server with a publicly trusted certificate, drop the
# tlsOptions line. workerd runs the module without any compatibility flag:
# mailwire needs no nodejs_compat.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "mailer", worker = .mailer),
    (name = "outbound", network = (
      allow = ["public", "local"],
      tlsOptions = (trustedCertificates = [ embed "ca.pem" ]),
    )),
  ],
  sockets = [ (name = "http", address = "*:8080", http = (), service = "mailer") ],
);

const mailer :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "2025-09-01",
  globalOutbound = "outbound",
  bindings = [
    (name = "SMTP_HOST", fromEnvironment = "SMTP_HOST"),
    (name = "SMTP_PORT", fromEnvironment = "SMTP_PORT"),
    (name = "SMTP_USER", fromEnvironment = "SMTP_USER"),
    (name = "SMTP_PASSWORD", fromEnvironment = "SMTP_PASSWORD"),
    (name = "MAIL_FROM", fromEnvironment = "MAIL_FROM"),
    (name = "MAIL_TO", fromEnvironment = "MAIL_TO"),
    (name = "SEND_TOKEN", fromEnvironment = "SEND_TOKEN"),
  ],
);
