// Package shopapi is the shop API contract shared by the bundled demo
// applications (legacy-monolith and extracted-services): the JSON types of
// customers, products, orders, payments and inventory; the error body and
// codes; the id scheme that says which side owns a record; the deterministic
// catalog both sides are seeded from; and the HTTP client the apps use to
// call each other (the anti-corruption layer).
//
// Every side keeps its own store: shopapi holds no data and no state.
//
// shopapi is used only by the bundled apps, never by the proxy, and it
// imports no other internal package.
package shopapi
