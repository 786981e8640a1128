"""No tables of its own: the GraphQL API reads the other apps' models (import-linter's in-app
layers name this module in every app)."""
