package monolith

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/strangler-proxy/strangler/internal/shopapi"
)

// SessionCookie names the cookie that carries the login session. Its value
// is an opaque random token known only to this monolith's store.
const SessionCookie = "session"

//go:embed templates/*.html
var templateFS embed.FS

// pages holds one parsed template set per page, each with the layout.
type pages map[string]*template.Template

// pageData is what every page template receives.
type pageData struct {
	Title    string
	Customer *shopapi.Customer // nil when logged out
	Notice   string
	Email    string
	Products []shopapi.Product
	Stock    map[string]string
	Orders   []shopapi.Order
}

func newPages() (pages, error) {
	funcs := template.FuncMap{"money": func(c int64) string {
		return fmt.Sprintf("%d.%02d %s", c/100, c%100, shopapi.Currency)
	}}
	p := pages{}
	for _, name := range []string{"home", "login", "account"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		p[name] = t
	}
	return p, nil
}

func (a *App) routePages(mux *http.ServeMux, p pages) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { a.home(w, r, p) })
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		a.render(w, r, p, "login", http.StatusOK, pageData{Title: "Log in", Customer: a.sessionCustomer(r)})
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) { a.login(w, r, p) })
	mux.HandleFunc("GET /account", func(w http.ResponseWriter, r *http.Request) { a.account(w, r, p) })
	mux.HandleFunc("/logout", a.logout) // GET from the link, POST from forms: legacy apps take both
}

// render executes a page into a buffer first, so a template error becomes a
// clean 500 rather than half a page.
func (a *App) render(w http.ResponseWriter, r *http.Request, p pages, name string, status int, d pageData) {
	var buf bytes.Buffer
	if err := p[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		a.log.Error("render page", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// sessionCustomer returns the logged-in customer of r, or nil.
func (a *App) sessionCustomer(r *http.Request) *shopapi.Customer {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil
	}
	id, ok := a.db.sessionCustomer(c.Value)
	if !ok {
		return nil
	}
	row, ok := a.db.customer(id)
	if !ok {
		return nil
	}
	cust := customerOut(row)
	return &cust
}

// home shows the catalog with the stock levels GET /api/inventory/items
// answers: while the inventory service fails, those of the retired table,
// with a notice and HeaderPartial saying so.
func (a *App) home(w http.ResponseWriter, r *http.Request, p pages) {
	d := pageData{Title: "Catalog", Customer: a.sessionCustomer(r), Products: a.db.products, Stock: map[string]string{}}
	items, err := a.stockItems(w, r)
	switch {
	case err != nil:
		a.log.Warn("stock for home page", "error", err)
		d.Notice = "Stock levels are unavailable right now."
	case w.Header().Get(HeaderPartial) != "":
		d.Notice = "Stock levels may be out of date right now."
	}
	for _, it := range items {
		d.Stock[it.SKU] = fmt.Sprint(it.Available)
	}
	for _, pr := range d.Products {
		if _, ok := d.Stock[pr.SKU]; !ok {
			d.Stock[pr.SKU] = "?"
		}
	}
	a.render(w, r, p, "home", http.StatusOK, d)
}

func (a *App) login(w http.ResponseWriter, r *http.Request, p pages) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	email, password := r.PostFormValue("email"), r.PostFormValue("password")
	row, ok := a.db.customerByEmail(email)
	if !ok || !passwordMatches(row.password, password) {
		a.render(w, r, p, "login", http.StatusUnauthorized, pageData{Title: "Log in", Email: email,
			Notice: "Unknown e-mail or wrong password."})
		return
	}
	tok, err := a.db.newSession(row.id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: tok, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: int((12 * time.Hour).Seconds())})
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

// account lists the customer's orders, from both sides when the orders
// service is known; if it fails, the monolith's own orders are still shown.
func (a *App) account(w http.ResponseWriter, r *http.Request, p pages) {
	cust := a.sessionCustomer(r)
	if cust == nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	d := pageData{Title: "Your account", Customer: cust}
	orders, err := a.listOrders(r.Context(), cust.ID, false)
	if err != nil {
		a.log.Warn("orders for account page", "customer", cust.ID, "error", err)
		d.Notice = "Some of your orders cannot be shown right now."
		orders, _ = a.listOrders(r.Context(), cust.ID, true) // local reads do not fail
	}
	d.Orders = orders
	a.render(w, r, p, "account", http.StatusOK, d)
}

func (a *App) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		a.db.endSession(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
