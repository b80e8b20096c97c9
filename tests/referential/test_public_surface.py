import referential


def test_exported_names_are_sorted_and_exist():
    assert referential.__all__ == sorted(referential.__all__)
    for name in referential.__all__:
        assert hasattr(referential, name), name
