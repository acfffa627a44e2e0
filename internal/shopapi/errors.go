package shopapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// Error codes of the contract, in ErrorBody.Error.Code.
const (
	CodeBadRequest        = "bad_request"          // 400: malformed body or parameter
	CodeMissingCustomer   = "missing_customer"     // 400: X-Customer-ID absent
	CodeNotFound          = "not_found"            // 404: no such record or endpoint
	CodeMethodNotAllowed  = "method_not_allowed"   // 405
	CodeAlreadyPaid       = "already_paid"         // 409: the order is not pending
	CodeInvalidTransition = "invalid_transition"   // 409: status change not allowed
	CodeInsufficientStock = "insufficient_stock"   // 409: not enough available stock
	CodeUnknownCustomer   = "unknown_customer"     // 422: X-Customer-ID names no customer
	CodeUnknownProduct    = "unknown_product"      // 422: a SKU names no product
	CodeUnknownOrder      = "unknown_order"        // 422: order_id names no order
	CodeUnknownPayment    = "unknown_payment"      // 422: payment_id names no payment of the order
	CodeUnknownShipment   = "unknown_shipment"     // 422: shipment_id names no shipment of the order
	CodeUpstream          = "upstream_unavailable" // 502: a side this app depends on failed
	CodeInternal          = "internal"             // 500
)

// ErrorBody is the body of every error response:
// {"error":{"code":"not_found","message":"order ord-100001 not found"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error is a contract error: a status, a code and a message for the client.
// Handlers return it; WriteErr writes it as is. A 4xx Error received from
// another app is passed on unchanged.
type Error struct {
	Status  int
	Code    string
	Message string
}

// Errorf returns an *Error with a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error formats the status, code and message.
func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// UpstreamError is a failed call to another app: a transport error, a
// timeout, a 5xx, or an answer that breaks the contract. WriteErr turns it
// into 502 upstream_unavailable naming only Service, never an address.
type UpstreamError struct {
	Service string // logical name, such as "monolith"
	Err     error
}

// Error names the service and the cause; it may hold an address, so it is
// for logs only.
func (e *UpstreamError) Error() string { return fmt.Sprintf("call %s: %v", e.Service, e.Err) }

// Unwrap returns the cause.
func (e *UpstreamError) Unwrap() error { return e.Err }

// WriteErr writes err as a JSON error: an *Error as it is, an
// *UpstreamError as 502, anything else as 500. Server-side failures are
// logged on log with the request's method and path.
func WriteErr(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var ce *Error
	var ue *UpstreamError
	switch {
	case errors.As(err, &ce):
		WriteError(w, ce.Status, ce.Code, ce.Message)
	case errors.As(err, &ue):
		if !errors.Is(err, context.Canceled) { // a client that left is no upstream failure
			log.Warn("upstream call failed", "method", r.Method, "path", r.URL.Path, "error", err)
		}
		WriteError(w, http.StatusBadGateway, CodeUpstream, ue.Service+" unavailable")
	default:
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		WriteError(w, http.StatusInternalServerError, CodeInternal, "internal error")
	}
}

// WriteError writes ErrorBody{code, msg} with status.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg}})
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the status is out; a write error only means the client left
}

// maxBody bounds every JSON request body.
const maxBody = 1 << 20

// DecodeJSON reads one JSON object from r's body into v, rejecting unknown
// fields and trailing data. Failures are *Error 400 bad_request.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(http.StatusBadRequest, CodeBadRequest, "invalid JSON body: %v", err)
	}
	if dec.More() {
		return Errorf(http.StatusBadRequest, CodeBadRequest, "invalid JSON body: data after the object")
	}
	return nil
}

// NotFound404 returns *Error 404 not_found for the record of kind with id,
// worded the same on every side.
func NotFound404(kind, id string) *Error {
	return Errorf(http.StatusNotFound, CodeNotFound, "%s %s not found", kind, id)
}

// CustomerID returns the X-Customer-ID of r, or *Error 400 missing_customer.
func CustomerID(r *http.Request) (string, error) {
	id := r.Header.Get(HeaderCustomerID)
	if id == "" {
		return "", Errorf(http.StatusBadRequest, CodeMissingCustomer, "the %s header is required", HeaderCustomerID)
	}
	return id, nil
}
