"""Local servers for the integration tests: a fault-injecting fake and llama.cpp's server."""
