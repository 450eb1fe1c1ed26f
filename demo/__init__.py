"""The scripted demo morning and the benchmark: Chaperone driven through its real HTTP
endpoint, with the local stand-ins in place of Microsoft's cloud."""
