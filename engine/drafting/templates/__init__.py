"""The offline template drafter: versioned copy filled from a customer's gated context."""

# No model, no network, no randomness: the same request always gets the same email, and every
# personalized sentence names the facts, products and intents it rests on.

from engine.drafting.templates.copy import STEPS, TEMPLATES, VERSION, StepTemplate, template_id
from engine.drafting.templates.drafter import TemplateDrafter

__all__ = ["STEPS", "TEMPLATES", "VERSION", "StepTemplate", "TemplateDrafter", "template_id"]
