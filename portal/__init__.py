"""What the JSON API (:mod:`api`) and the web pages (:mod:`web`) share: settings of the front
end, the signed-in person (tokens and browser sessions), the Temporal connection, and problem
details. Both import it; it imports neither, so the two never import each other."""
