from django import template

from certificates.selectors import certificate_urls, certificates_by_name_id, order_certificate_links

register = template.Library()


@register.simple_tag(takes_context=True)
def order_certificate_urls(context, order, names, read_with_names=False):
    """{name id: its certificate's download and verification URLs} for the names issued so far,
    plus "booklet" and "letters_csv" for the whole order (in one query, not one per name; none
    with `read_with_names`, where each name was read with its certificate)."""
    request = context.get("request")
    # The done page passes what allocation.selectors describes: {"name": ..., "letter": ...}.
    names = [item["name"] if isinstance(item, dict) else item for item in names]
    if read_with_names:  # a name without one reads as None, no query
        issued = {name.pk: certificate for name in names if (certificate := getattr(name, "certificate", None))}
    else:
        issued = certificates_by_name_id(names=names)
    by_name = {
        name_id: certificate_urls(certificate=certificate, order=order, request=request)
        for name_id, certificate in issued.items()
    }
    return {
        "by_name": by_name,
        "all_issued": len(by_name) == len(names),
        **order_certificate_links(order=order, request=request),
    }


@register.filter
def certificate_for(urls, name):
    return urls["by_name"].get(getattr(name, "pk", None))
