import referential


def test_every_exported_name_exists_once():
    assert len(set(referential.__all__)) == len(referential.__all__)
    for name in referential.__all__:
        assert hasattr(referential, name), name


def test_nothing_public_is_left_unexported():
    public = {
        name
        for name, value in vars(referential).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("referential")
    }
    assert public <= set(referential.__all__)
