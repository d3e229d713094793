"""Data that netspec carries so that it runs with no network: the UCI digits (see DIGITS-LICENSE.md)."""
