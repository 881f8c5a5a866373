"""bpttviz's Qt views. Everything here reads the Session; nothing here computes maths."""
