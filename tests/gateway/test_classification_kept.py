"""Sections classified before, by content: the same parts, in the same order, as classifying
them again — on the payloads of the differential corpus (every kind, valid and mutated), twice
each (the second time from the store)."""

from gateway.habilitation.categories import KEPT_SECTIONS, ClassifiedSections, classify
from referential import current_referential
from tests.referential.test_differential import corpus


def test_kept_sections_classify_as_the_sections_themselves():
    referential = current_referential()
    kept = ClassifiedSections(64 * 1024 * 1024)
    documents = [case.payload for case in corpus() if isinstance(case.payload, dict)]
    compared = 0
    for document in documents:
        try:
            expected = list(classify(document, referential))
        except (AttributeError, TypeError):
            continue  # not a payload's shape (only validated payloads are classified)
        for _ in range(2):
            assert list(classify(document, referential, kept=kept)) == expected, document
        compared += any(section in document for section in KEPT_SECTIONS)
    assert compared >= 500


def test_a_store_holds_no_more_than_its_capacity():
    referential = current_referential()
    kept = ClassifiedSections(10_000)
    for index in range(100):
        document = {"rendez_vous": [{"id": f"rdv-{index}-{n}"} for n in range(20)]}
        assert list(classify(document, referential, kept=kept)) == list(
            classify(document, referential)
        )
    assert kept.size <= 10_000


def test_the_same_content_in_two_sections_keeps_each_section_s_pointers():
    referential = current_referential()
    kept = ClassifiedSections(1024 * 1024)
    items = [{"id": "x-1"}, {"id": "x-2"}]
    document = {"rendez_vous": items, "evenements": items}
    expected = list(classify(document, referential))
    assert ("/evenements/1", "parcours") in expected
    for _ in range(2):
        assert list(classify(document, referential, kept=kept)) == expected
