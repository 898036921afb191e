"""Label Studio round trip: server, connection, configs, accounts, push, pull."""
