package serde_test

type Payment struct {
	ID     string  `json:"id"`
	Amount float64 `json:"amount"`
	Memo   string  `json:"memo,omitempty"`
}

const paymentSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Payment",
  "type": "object",
  "properties": {
    "id": {"type": "string", "minLength": 1},
    "amount": {"type": "number", "minimum": 0},
    "memo": {"type": "string"}
  },
  "required": ["id", "amount"]
}`
