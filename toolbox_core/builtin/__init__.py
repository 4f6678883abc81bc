"""The kernel's built-in plugins: system routes and the simple default providers."""
