"""masimo_ascii: the "ASCII 1" serial output of Masimo pulse oximeters (receive only)."""
