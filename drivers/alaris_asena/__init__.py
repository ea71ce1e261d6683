"""Alaris (BD/CareFusion) Asena syringe pumps over RS-232, read-only (unofficial)."""
