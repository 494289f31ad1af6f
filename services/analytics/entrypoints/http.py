"""The customer database over HTTP."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel

from services.analytics.service_layer.projection import Projection

router = APIRouter(prefix="/customers", tags=["customers"])


class CustomerPublic(BaseModel):
    customer_id: str
    display_name: str
    first_seen: datetime
    last_seen: datetime
    messages: int
    rooms_joined: int


@router.get("/{customer_id}", response_model=CustomerPublic)
async def get_customer(customer_id: str, request: Request) -> CustomerPublic:
    """One customer's profile as built from the events so far."""
    projection: Projection = request.app.state.service.projection
    row = await projection.customer(customer_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no customer {customer_id}")
    return CustomerPublic.model_validate(row, from_attributes=True)
