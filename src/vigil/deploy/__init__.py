"""Running Vigil's scale-out roles as processes: NATS servers, roles, the local cluster."""
