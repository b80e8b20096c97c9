"""outgoing bodies and sealed secrets: where a delivery's body departed from its published
schema; the signing secrets of subscriptions sealed at rest (AES-256-GCM); subscriptions
that embed the changed sections, and the purpose they are journaled with

The secrets found in clear are sealed here, under the keyring handed over by
Database.migrate (a function giving it: by default, the keys of the settings,
CARNET_CLES_SECRETS or the key file); a downgrade opens them again. Nothing is imported from
the application: the keyring is an object with ``seal`` and ``open``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import context, op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SECRETS = sa.text("SELECT id, secret, secret_precedent FROM abonnements")
_UPDATE = sa.text(
    "UPDATE abonnements SET secret = :secret, secret_precedent = :secret_precedent WHERE id = :id"
)


#: How a sealed value starts (gateway.sealing as of this revision).
_SEALED = "a256gcm$"


def _keyring() -> Any:
    given = context.config.attributes.get("keyring")
    if given is None:
        raise RuntimeError("0010 : des secrets sont à sceller ; Database.migrate donne les clés.")
    return given()


def _seal_context(subscription_id: str) -> str:
    """What a sealed secret is bound to: its subscription (gateway.subscriptions.service)."""
    return f"abonnements:{subscription_id}"


def _rewrite(sealed: bool) -> None:
    """Seal the secrets in clear (``sealed``) or open the sealed ones; the keys are read only
    when there is one to change."""
    bind = op.get_bind()
    keyring = None
    for subscription_id, secret, previous in bind.execute(_SECRETS).all():
        values = {"secret": secret, "secret_precedent": previous}
        where = _seal_context(subscription_id)
        changed = {}
        for name, value in values.items():
            if value is None or value.startswith(_SEALED) == sealed:
                continue
            keyring = keyring or _keyring()
            changed[name] = keyring.seal(value, where) if sealed else keyring.open(value, where)
        if changed:
            bind.execute(_UPDATE, {"id": subscription_id, **values, **changed})


def _resize_secrets(length: int, new_length: int) -> None:
    """A sealed secret is longer than the secret as issued."""
    with op.batch_alter_table("abonnements") as batch:
        for name, nullable in (("secret", False), ("secret_precedent", True)):
            batch.alter_column(
                name,
                type_=sqlmodel.sql.sqltypes.AutoString(length=new_length),
                existing_type=sqlmodel.sql.sqltypes.AutoString(length=length),
                existing_nullable=nullable,
            )


def upgrade() -> None:
    op.add_column("livraisons", sa.Column("erreurs", sa.JSON(), nullable=True))
    op.add_column(
        "abonnements",
        sa.Column("inclure_sections", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "abonnements",
        sa.Column("finalite", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    )
    _resize_secrets(100, 200)
    _rewrite(sealed=True)


def downgrade() -> None:
    _rewrite(sealed=False)
    _resize_secrets(200, 100)
    with op.batch_alter_table("abonnements") as batch:
        batch.drop_column("finalite")
        batch.drop_column("inclure_sections")
    with op.batch_alter_table("livraisons") as batch:
        batch.drop_column("erreurs")
