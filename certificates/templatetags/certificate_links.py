from django import template

from certificates.selectors import certificate_urls, certificates_by_name_id, order_certificate_links

register = template.Library()


@register.simple_tag(takes_context=True)
def order_certificate_urls(context, order, names):
    """{name id: its certificate's download and verification URLs} for the names issued so far,
    plus "booklet" and "letters_csv" for the whole order (in one query, not one per name)."""
    request = context.get("request")
    # The done page passes what allocation.selectors describes: {"name": ..., "letter": ...}.
    names = [item["name"] if isinstance(item, dict) else item for item in names]
    by_name = {
        name_id: certificate_urls(certificate=certificate, order=order, request=request)
        for name_id, certificate in certificates_by_name_id(names=names).items()
    }
    return {
        "by_name": by_name,
        "all_issued": len(by_name) == len(names),
        **order_certificate_links(order=order, request=request),
    }


@register.filter
def certificate_for(urls, name):
    return urls["by_name"].get(getattr(name, "pk", None))
