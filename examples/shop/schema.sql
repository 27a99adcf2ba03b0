-- The example shop, with its constraints declared: primary keys, foreign keys,
-- NOT NULL and UNIQUE. Portable across PostgreSQL and SQLite.

CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    price_cents INTEGER NOT NULL
);

CREATE TABLE addresses (
    id INTEGER PRIMARY KEY,
    street TEXT NOT NULL,
    city TEXT NOT NULL,
    postcode TEXT NOT NULL,
    country TEXT NOT NULL
);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    full_name TEXT NOT NULL,
    phone TEXT,
    birth_date DATE,
    password_hash TEXT NOT NULL,
    address_id INTEGER REFERENCES addresses (id),
    marketing_opt_in BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX customers_email_lower ON customers (lower(email));
CREATE INDEX customers_address ON customers (address_id);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    shipping_address_id INTEGER NOT NULL REFERENCES addresses (id),
    placed_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL,
    gift_message TEXT
);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX orders_shipping_address ON orders (shipping_address_id);

CREATE TABLE order_items (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    product_id INTEGER NOT NULL REFERENCES products (id),
    quantity INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL
);
CREATE INDEX order_items_order ON order_items (order_id);
CREATE INDEX order_items_product ON order_items (product_id);

CREATE TABLE payments (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    invoice_no TEXT NOT NULL UNIQUE,
    billing_name TEXT NOT NULL,
    card_last4 TEXT,
    amount_cents INTEGER NOT NULL,
    paid_at TIMESTAMP NOT NULL
);
CREATE INDEX payments_order ON payments (order_id);

CREATE TABLE logins (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    ip_address TEXT NOT NULL,
    user_agent TEXT,
    logged_in_at TIMESTAMP NOT NULL
);
CREATE INDEX logins_customer ON logins (customer_id);

-- Tickets come from a help desk that knows only the e-mail address, in any case.
CREATE TABLE support_tickets (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    opened_at TIMESTAMP NOT NULL
);
CREATE INDEX support_tickets_email_lower ON support_tickets (lower(email));
