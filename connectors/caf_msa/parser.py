"""A streamed, bounded and safe reader of the CAF/MSA flux.

The bytes are fed block by block to an expat parser protected by ``defusedxml``: a DOCTYPE, an
entity declaration or an external reference is refused before anything is resolved (no DTD, no
entity expansion, no network access). The reader bounds the element depth and the text of each
element itself, while the parser delivers it, so that a hostile file is refused before it
costs memory. Each child of the root (``IdentificationFlux``, every ``InfosFoyerRSA``,
``TransmissionFlux``) is handed over once complete and then detached from the tree: memory
stays that of one foyer whatever the file size, and nothing depends on block boundaries.

The envelope is checked as it streams: the root is ``Racine``; ``IdentificationFlux`` comes
first, ``TransmissionFlux`` last, nothing else beside the foyers. A broken envelope, a file
that is not well-formed, truncated or not in its declared encoding raises :class:`FluxInvalide`
with its line, column and byte offset.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal
from xml.etree.ElementTree import Element, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from connectors._interface import UpstreamMalformed

ROOT = "Racine"
HEADER = "IdentificationFlux"
FOYER = "InfosFoyerRSA"
TRAILER = "TransmissionFlux"

_DECLARATION = re.compile(
    rb"""^(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']"""
)
#: A multi-byte UTF-8 sequence: what windows-1252 text almost never holds.
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}")
_SINGLE_BYTE = frozenset({"windows-1252", "cp1252", "iso-8859-1", "iso-8859-15", "latin-1"})

Kind = Literal["entete", "foyer", "transmission"]


class FluxInvalide(UpstreamMalformed):
    """The file as a whole is refused: nothing of it may be applied.

    ``raison`` is a stable code; the message is French and names no person.
    """

    code = "fichier_invalide"

    def __init__(
        self,
        raison: str,
        message: str,
        *,
        ligne: int | None = None,
        colonne: int | None = None,
        octet: int | None = None,
    ) -> None:
        super().__init__(message)
        self.raison = raison
        self.ligne = ligne
        self.colonne = colonne
        self.octet = octet

    def to_wire(self) -> dict[str, Any]:
        return {
            "code": self.raison,
            "message": self.message,
            "ligne": self.ligne,
            "colonne": self.colonne,
            "octet": self.octet,
        }


@dataclass(frozen=True, slots=True)
class Block:
    """A complete child of the root: its kind, its element, the line where it starts."""

    kind: Kind
    element: Element
    ligne: int
    #: The line of each ``Personne`` of a foyer, in order.
    lignes_personnes: tuple[int, ...] = ()


class _Limit(Exception):
    def __init__(self, raison: str, message: str) -> None:
        super().__init__(message)
        self.raison = raison
        self.message = message


class _Target:
    """The parser's target: builds the tree, bounds it, and hands over the root's children."""

    def __init__(self, max_depth: int, max_text: int) -> None:
        self._builder = TreeBuilder()
        self._max_depth = max_depth
        self._max_text = max_text
        self._depth = 0
        self._text = 0
        self._root: Element | None = None
        self._line = 0
        self._persons: list[int] = []
        self.line_of: Any = None
        self.blocks: deque[Block] = deque()
        self._seen_header = False
        self._seen_trailer = False
        self._foyers = 0

    @property
    def complete(self) -> bool:
        return self._seen_trailer

    def start_raw(self, tag: str, attrs: list[str]) -> Element:
        """Expat's call (ordered attributes: a flat list of names and values)."""
        return self.start(tag, dict(zip(attrs[::2], attrs[1::2], strict=True)) if attrs else {})

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self._depth += 1
        self._text = 0
        if self._depth > self._max_depth:
            raise _Limit(
                "profondeur_excessive",
                f"Éléments imbriqués sur plus de {self._max_depth} niveaux.",
            )
        if self._depth == 1 and tag != ROOT:
            raise _Limit("racine_inattendue", f"Racine « {tag} » au lieu de « {ROOT} ».")
        if self._depth == 2:
            self._line = self.line_of()
            self._persons = []
            self._check_order(tag)
        elif self._depth == 3 and tag == "Personne":
            self._persons.append(self.line_of())
        element = self._builder.start(tag, attrs)
        if self._depth == 1:
            self._root = element
        return element

    def _check_order(self, tag: str) -> None:
        if self._seen_trailer:
            raise _Limit("element_apres_transmission", f"« {tag} » après « {TRAILER} ».")
        if tag == HEADER:
            if self._seen_header or self._foyers:
                raise _Limit("identification_non_premiere", f"« {HEADER} » n'est pas en tête.")
            self._seen_header = True
        elif tag in (FOYER, TRAILER):
            if not self._seen_header:
                raise _Limit(
                    "identification_absente", f"« {HEADER} » absent ou pas en tête du fichier."
                )
            if tag == FOYER:
                self._foyers += 1
            else:
                self._seen_trailer = True
        else:
            raise _Limit("element_inattendu", f"Élément « {tag} » inattendu sous « {ROOT} ».")

    def data(self, text: str) -> None:
        self._text += len(text)
        if self._text > self._max_text:
            raise _Limit(
                "texte_excessif", f"Texte d'un élément plus long que {self._max_text} caractères."
            )
        self._builder.data(text)

    def end(self, tag: str) -> Element:
        element = self._builder.end(tag)
        if self._depth == 2 and self._root is not None:
            kind: Kind = "entete" if tag == HEADER else "foyer" if tag == FOYER else "transmission"
            self.blocks.append(Block(kind, element, self._line, tuple(self._persons)))
            self._root.remove(element)
        self._depth -= 1
        self._text = 0
        return element

    def comment(self, text: str) -> None:
        """Comments are dropped (and their size bounded like text)."""
        if len(text) > self._max_text:
            raise _Limit("texte_excessif", "Commentaire trop long.")

    def close(self) -> Element:
        return self._builder.close()


class FluxReader:
    """Reads one file: iterate for its blocks; ``warnings`` holds file-level findings."""

    def __init__(
        self, stream: BinaryIO, *, max_depth: int = 16, max_text: int = 4096, chunk: int = 65_536
    ) -> None:
        self._stream = stream
        self._chunk = chunk
        self._target = _Target(max_depth, max_text)
        self._parser = DefusedXMLParser(
            target=self._target, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
        expat = self._parser.parser
        self._expat = expat
        self._target.line_of = lambda: expat.CurrentLineNumber
        # The element handlers go straight to the target (the DTD, entity and external
        # reference handlers defusedxml installed stay): the parser's own wrappers only map
        # namespaces, which the format has none of, and cost a third of the parse.
        expat.StartElementHandler = self._target.start_raw
        expat.EndElementHandler = self._target.end
        expat.CharacterDataHandler = self._target.data
        self.warnings: list[tuple[str, str]] = []
        self.declared: str | None = None

    def __iter__(self) -> Iterator[Block]:
        first = True
        suspicious = False
        while True:
            data = self._stream.read(self._chunk)
            if first:
                first = False
                found = _DECLARATION.match(data)
                self.declared = found.group(1).decode("ascii").lower() if found else None
                if not data.strip():
                    raise FluxInvalide("fichier_vide", "Le fichier est vide.", ligne=1, colonne=0)
            if not data:
                break
            if (
                not suspicious
                and self.declared in _SINGLE_BYTE
                and _UTF8_SEQUENCE.search(data) is not None
            ):
                suspicious = True
                self.warnings.append(
                    (
                        "encodage_suspect",
                        f"Encodage déclaré {self.declared}, mais le contenu ressemble à de "
                        "l'UTF-8 : les caractères accentués seront mal lus.",
                    )
                )
            self._feed(data)
            while self._target.blocks:
                yield self._target.blocks.popleft()
        self._feed(None)
        while self._target.blocks:
            yield self._target.blocks.popleft()
        if not self._target.complete:
            raise FluxInvalide(
                "transmission_absente",
                f"« {TRAILER} » absent : fichier incomplet.",
                ligne=self._expat.CurrentLineNumber,
                colonne=self._expat.CurrentColumnNumber,
                octet=self._expat.CurrentByteIndex,
            )

    def _feed(self, data: bytes | None) -> None:
        try:
            if data is None:
                self._parser.close()
            else:
                self._parser.feed(data)
        except _Limit as error:
            raise self._located(error.raison, error.message) from None
        except DefusedXmlException:
            raise self._located(
                "dtd_interdite",
                "DOCTYPE, entités et références externes sont interdits dans ce fichier.",
            ) from None
        except ParseError as error:
            line, column = error.position
            code = getattr(error, "code", None)
            raise FluxInvalide(
                "xml_mal_forme",
                f"XML mal formé ou dans un autre encodage que celui déclaré ({_reason(code)}).",
                ligne=line,
                colonne=column,
                octet=self._expat.ErrorByteIndex if self._expat.ErrorByteIndex >= 0 else None,
            ) from None

    def _located(self, raison: str, message: str) -> FluxInvalide:
        return FluxInvalide(
            raison,
            message,
            ligne=self._expat.CurrentLineNumber,
            colonne=self._expat.CurrentColumnNumber,
            octet=self._expat.CurrentByteIndex,
        )


def _reason(code: int | None) -> str:
    from xml.parsers.expat import ErrorString

    if code is None:
        return "erreur de lecture"
    return str(ErrorString(code))
