"""The `collect` stage: photos of the subject from the internet, every input URL accounted for.

Sources (`sources/`, one small interface: `items(api) -> Iterator[CollectItem]`) list URLs: plain
URL lists, SDIP JSON, Reddit, Wikimedia Commons, Flickr, and img2dataset output. The downloader
fetches them concurrently and politely, keeps only bodies that decode as images, stores them under
content-hash names, and gives every URL one outcome (`ok` or a reason) in the manifest.
"""
