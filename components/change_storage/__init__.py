"""``ChangeStorage``: the shared change ledger's DynamoDB table and the evidence bucket."""

from components.change_storage.args import ChangeStorageArgs, ChangeStorageError
from components.change_storage.component import (
    HASH_KEY,
    RANGE_KEY,
    TYPE_TOKEN,
    ChangeStorage,
)

__all__ = [
    "HASH_KEY",
    "RANGE_KEY",
    "TYPE_TOKEN",
    "ChangeStorage",
    "ChangeStorageArgs",
    "ChangeStorageError",
]
