"""Tool transports: MCP over streamable HTTP, and plain HTTP APIs."""
