-- The example shop as many real databases are: no primary keys, foreign keys, NOT NULL
-- or UNIQUE declared. Keys and relations come from the data map alone.

CREATE TABLE products (
    id INTEGER,
    sku TEXT,
    name TEXT,
    price_cents INTEGER
);

CREATE TABLE addresses (
    id INTEGER,
    street TEXT,
    city TEXT,
    postcode TEXT,
    country TEXT
);

CREATE TABLE customers (
    id INTEGER,
    email TEXT,
    full_name TEXT,
    phone TEXT,
    birth_date DATE,
    password_hash TEXT,
    address_id INTEGER,
    marketing_opt_in BOOLEAN,
    created_at TIMESTAMP
);
CREATE INDEX customers_email_lower ON customers (lower(email));
CREATE INDEX customers_address ON customers (address_id);

CREATE TABLE orders (
    id INTEGER,
    customer_id INTEGER,
    shipping_address_id INTEGER,
    placed_at TIMESTAMP,
    status TEXT,
    gift_message TEXT
);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX orders_shipping_address ON orders (shipping_address_id);

CREATE TABLE order_items (
    id INTEGER,
    order_id INTEGER,
    product_id INTEGER,
    quantity INTEGER,
    unit_price_cents INTEGER
);
CREATE INDEX order_items_order ON order_items (order_id);
CREATE INDEX order_items_product ON order_items (product_id);

CREATE TABLE payments (
    id INTEGER,
    order_id INTEGER,
    invoice_no TEXT,
    billing_name TEXT,
    card_last4 TEXT,
    amount_cents INTEGER,
    paid_at TIMESTAMP
);
CREATE INDEX payments_order ON payments (order_id);

CREATE TABLE logins (
    id INTEGER,
    customer_id INTEGER,
    ip_address TEXT,
    user_agent TEXT,
    logged_in_at TIMESTAMP
);
CREATE INDEX logins_customer ON logins (customer_id);

-- Tickets come from a help desk that knows only the e-mail address, in any case.
CREATE TABLE support_tickets (
    id INTEGER,
    email TEXT,
    subject TEXT,
    body TEXT,
    opened_at TIMESTAMP
);
CREATE INDEX support_tickets_email_lower ON support_tickets (lower(email));
