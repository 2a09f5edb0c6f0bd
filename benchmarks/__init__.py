"""The project's benchmarks: each module with a `main` is one benchmark, run as
`python -m benchmarks.<name>` from the project root (benchmarks/README.md lists them). Their
packages are the `bench` extra of pyproject.toml, which scripts/bootstrap.sh installs."""
