pytest_plugins = ["voxline.testing.pytest_plugin"]
