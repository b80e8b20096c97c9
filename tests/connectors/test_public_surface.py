import connectors


def test_every_exported_name_exists_once():
    assert len(set(connectors.__all__)) == len(connectors.__all__)
    for name in connectors.__all__:
        assert hasattr(connectors, name), name


def test_nothing_public_is_left_unexported():
    public = {
        name
        for name, value in vars(connectors).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("connectors._")
    }
    assert public <= set(connectors.__all__)
