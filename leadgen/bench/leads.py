"""The bench's lead source: as many distinct, plausible businesses as a job asks for (the
offline catalogue stops at 200), so that job size is the only thing a scaling row changes."""

from leadgen.providers.base import RawLead


class BenchLeadSource:
    """Invents ``limit`` distinct businesses, the same ones for the same arguments."""

    name = "bench"

    async def find(self, query: str, location: str | None, limit: int) -> list[RawLead]:
        """``limit`` listings, each with a website, a phone and a few signals to score."""
        return [
            RawLead(
                source_id=f"bench-{index:04d}",
                name=f"{query.title()} Studio {index:04d}",
                website=f"https://studio-{index:04d}.example.com",
                location=location,
                phone=f"+1 512 555 {index:04d}",
                industry=query,
                keywords=[query],
                signals={"rating": 3.0 + (index % 20) / 10, "reviews": index % 97},
            )
            for index in range(limit)
        ]
